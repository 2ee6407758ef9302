// Package lab is the web console over the indicator, sample, model and algorithm
// libraries, screenings and company profiles. It holds no business logic of its own:
// every page calls the packages below it.
package lab

// Package access holds institutions, users, roles, hashed API keys and consent grants
// (company to bank). Registry, serving and lab all authorize through it.
package access

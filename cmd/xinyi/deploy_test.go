package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// k8sObject is the part of a Kubernetes object the deployment check reads.
type k8sObject struct {
	Kind       string                `yaml:"kind"`
	Metadata   struct{ Name string } `yaml:"metadata"`
	Data       map[string]string     `yaml:"data"`
	StringData map[string]string     `yaml:"stringData"`
	Spec       struct {
		Template    podTemplate `yaml:"template"`
		JobTemplate struct {
			Spec struct {
				Template podTemplate `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
}

type podTemplate struct {
	Spec struct {
		Containers     []container `yaml:"containers"`
		InitContainers []container `yaml:"initContainers"`
	} `yaml:"spec"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	StartupProbe   *probe `yaml:"startupProbe"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

func loadManifests(t *testing.T, dir string) []k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	var out []k8sObject
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o k8sObject
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" {
				t.Fatalf("%s: a document without a kind", f)
			}
			out = append(out, o)
		}
	}
	return out
}

// TestDeployManifests checks the Kubernetes manifests in deploy/kubernetes
// against this binary: every container runs a xinyi command whose flags the
// command accepts (names and values, after Kubernetes' $(VAR) expansion from the
// ConfigMap and Secret), every variable they provide is used by an argument or
// read by the code, and each probe's named port is the port its listener flag
// binds.
func TestDeployManifests(t *testing.T) {
	objs := loadManifests(t, filepath.Join("..", "..", "deploy", "kubernetes"))
	env := map[string]string{}
	for _, o := range objs {
		if o.Kind == "ConfigMap" || o.Kind == "Secret" {
			for k, v := range o.Data {
				env[k] = v
			}
			for k, v := range o.StringData {
				env[k] = v
			}
		}
	}
	src := goSources(t, filepath.Join("..", ".."))
	used := map[string]bool{}
	varRef := regexp.MustCompile(`\$\(([A-Z0-9_]+)\)`)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind]++
		cs := append(o.Spec.Template.Spec.Containers, o.Spec.Template.Spec.InitContainers...)
		cs = append(cs, o.Spec.JobTemplate.Spec.Template.Spec.Containers...)
		for _, c := range cs {
			where := o.Kind + "/" + o.Metadata.Name + "/" + c.Name
			if c.Image != "xinyi" || len(c.Command) > 0 {
				t.Errorf("%s: runs %q %v, want the xinyi image's entry point", where, c.Image, c.Command)
				continue
			}
			local := map[string]string{}
			for k, v := range env {
				local[k] = v
			}
			for _, e := range c.Env {
				local[e.Name] = e.Value
			}
			args := make([]string, len(c.Args))
			for i, a := range c.Args {
				args[i] = varRef.ReplaceAllStringFunc(a, func(m string) string {
					name := varRef.FindStringSubmatch(m)[1]
					used[name] = true
					v, ok := local[name]
					if !ok {
						t.Errorf("%s: argument %q names $(%s), which no ConfigMap, Secret or env entry sets", where, a, name)
					}
					return v
				})
			}
			checkFlags(t, where, args)
			checkProbes(t, where, c, args)
		}
	}
	for _, want := range []string{"Deployment", "Service", "Job"} {
		if kinds[want] == 0 {
			t.Errorf("no %s among the manifests (%v)", want, kinds)
		}
	}
	for name := range env {
		if !used[name] && !strings.Contains(src, `"`+name+`"`) {
			t.Errorf("the manifests set %s, but no argument uses it and the code never reads it", name)
		}
	}
}

// checkFlags parses args with the command's own flag set: "-h" after them stops
// the command once every flag before it has parsed.
func checkFlags(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no command", where)
		return
	}
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), append(append([]string{}, args...), "-h"), &out, &errOut)
	all := out.String() + errOut.String()
	for _, bad := range []string{"provided but not defined", "invalid value", "invalid boolean", "unknown command", "unexpected argument"} {
		if strings.Contains(all, bad) {
			t.Errorf("%s: xinyi %s: %s", where, strings.Join(args, " "), firstLine(all, bad))
			return
		}
	}
	if !strings.Contains(all, "help requested") && !strings.Contains(all, "Usage") {
		t.Errorf("%s: xinyi %s -h: exit %d without its usage:\n%s", where, strings.Join(args, " "), code, all)
	}
}

func firstLine(s, sub string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return s
}

// checkProbes: a probe's named port must be declared, and its number must be the
// port of the listener flag that serves the probe's path.
func checkProbes(t *testing.T, where string, c container, args []string) {
	t.Helper()
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	listen := map[string]string{} // flag → port
	for _, a := range args {
		name, val, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			continue
		}
		if _, port, err := net.SplitHostPort(val); err == nil && (name == "http" || name == "admin" || name == "grpc") {
			listen[name] = port
		}
	}
	for kind, p := range map[string]*probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		if p == nil {
			continue
		}
		if p.HTTPGet == nil {
			t.Errorf("%s: %s probe is not an HTTP GET", where, kind)
			continue
		}
		num, ok := ports[p.HTTPGet.Port]
		if !ok {
			t.Errorf("%s: %s probe names port %q, which the container does not declare", where, kind, p.HTTPGet.Port)
			continue
		}
		flagName := "http"
		if p.HTTPGet.Path == "/healthz" || strings.HasPrefix(p.HTTPGet.Path, "/debug/") {
			flagName = "admin"
		}
		if got := listen[flagName]; got != strconv.Itoa(num) {
			t.Errorf("%s: %s probe %s on port %d, but --%s listens on port %q", where, kind, p.HTTPGet.Path, num, flagName, got)
		}
	}
}

// goSources concatenates the repository's non-test Go files, where the names of
// the environment variables the code reads appear as string literals.
func goSources(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "out" || d.Name() == "bin" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b.Write(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

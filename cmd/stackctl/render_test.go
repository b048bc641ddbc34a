package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackctl/stackctl/compose"
)

func testDeps(stdin string) (*deps, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &deps{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, &out, &errb
}

func TestRenderFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    compose.Options
		wantErr bool
	}{
		{"defaults", nil, compose.Options{}, false},
		{"files in order and stack", []string{"-c", "a.yml", "--compose-file", "b.yml", "shop"}, compose.Options{Files: []string{"a.yml", "b.yml"}, Stack: "shop"}, false},
		{"env files", []string{"--env-file", "x.env", "--env-file", "y.env"}, compose.Options{EnvFiles: []string{"x.env", "y.env"}}, false},
		{"stdin", []string{"-c", "-"}, compose.Options{Files: []string{"-"}}, false},
		{"two stacks", []string{"a", "b"}, compose.Options{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _, _ := testDeps("")
			var got compose.Options
			cmd := newRenderCmd(d, func(_ context.Context, o renderOptions) error {
				got = o.load
				return nil
			})
			cmd.SetArgs(tt.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			got.Stdin = nil
			if strings.Join(got.Files, ",") != strings.Join(tt.want.Files, ",") ||
				strings.Join(got.EnvFiles, ",") != strings.Join(tt.want.EnvFiles, ",") || got.Stack != tt.want.Stack {
				t.Errorf("options = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRenderRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("pw.txt", "CANARY-cmd-plain-31f0")
	good := write("good.yml", "services:\n  web:\n    image: x\n    secrets: [pw]\nsecrets:\n  pw:\n    file: ./pw.txt\n")
	bad := write("bad.yml", "services:\n  web:\n    image: x\n    secretz: [pw]\n")

	tests := []struct {
		name       string
		args       []string
		stdin      string
		code       int
		stdoutHas  string
		stderrHas  string
		stdoutNone bool
	}{
		{"renders", []string{"render", "-c", good, "shop"}, "", exitOK, "name: shop_pw.", "not encrypted with sops: pw", false},
		{"reads stdin", []string{"render", "-c", "-", "shop"}, "services:\n  web:\n    image: x\n", exitOK, "image: x", "", false},
		{"bad input", []string{"render", "-c", bad, "shop"}, "", exitUsage, "", "services.web.secretz: unknown key", true},
		{"bad flag", []string{"render", "--nope"}, "", exitUsage, "", "unknown flag", true},
		{"invalid stack name", []string{"render", "-c", good, "Shop!"}, "", exitUsage, "", "invalid stack name", true},
		{"version", []string{"version"}, "", exitOK, "stackctl ", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, out, errb := testDeps(tt.stdin)
			code := run(tt.args, d)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errb)
			}
			if !strings.Contains(out.String(), tt.stdoutHas) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdoutHas, out)
			}
			if !strings.Contains(errb.String(), tt.stderrHas) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderrHas, errb)
			}
			if tt.stdoutNone && out.Len() > 0 {
				t.Errorf("stdout is not empty on failure:\n%s", out)
			}
			if strings.Contains(out.String()+errb.String(), "CANARY") {
				t.Error("a secret value reached the output")
			}
		})
	}
}

func TestLiveReporterRewritesServiceLines(t *testing.T) {
	var b bytes.Buffer
	r := reporter(&deps{stderr: &b, stderrTTY: true}, false)
	r.Status("shop_web", "0/2 tasks running")
	r.Status("shop_db", "0/1 tasks running")
	r.Printf("creating secret x")
	r.Status("shop_web", "2/2 tasks running")
	out := b.String()
	if strings.Count(out, "\033[1A\033[2K") != 1+2+2 {
		t.Errorf("lines were not rewritten in place: %q", out)
	}
	last := out[strings.LastIndex(out, "creating secret x"):]
	if !strings.Contains(last, "shop_web                       2/2 tasks running\n  shop_db") {
		t.Errorf("final view: %q", last)
	}

	b.Reset()
	reporter(&deps{stderr: &b}, false).Status("shop_web", "2/2 tasks running")
	if b.String() != "service shop_web: 2/2 tasks running\n" {
		t.Errorf("plain line: %q", b.String())
	}
}

func TestEveryCommandHasAnExample(t *testing.T) {
	d, _, _ := testDeps("")
	for _, c := range newRootCmd(d).Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Example == "" {
			t.Errorf("stackctl %s --help has no example", c.Name())
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		d, out, errb := testDeps("")
		if code := run([]string{"completion", shell}, d); code != exitOK || !strings.Contains(out.String(), "stackctl") {
			t.Errorf("completion %s: exit %d %s", shell, code, errb)
		}
	}
}

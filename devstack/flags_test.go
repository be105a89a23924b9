package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's form for a dev stack without demo data works, and the defaults stay as documented.
func TestNoDemoFlag(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || !o.Demo || o.DataDir != ".devstack" || o.TemporalPort != 7233 {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	for _, args := range [][]string{{"--no-demo"}, {"--demo=false"}} {
		o, err := parseFlags(args, io.Discard)
		if err != nil || o.Demo {
			t.Errorf("%v: Demo %v, error %v; want no demo", args, o.Demo, err)
		}
	}
}

// Every flag the README names for the dev stack exists, so the README and --help cannot drift apart again.
func TestREADMEFlagsExist(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "Flags: `--")
	end := -1
	if start >= 0 {
		end = strings.Index(text[start:], "lists them")
	}
	if end < 0 {
		t.Fatal("the README's sentence listing the dev stack's flags is gone")
	}
	names := regexp.MustCompile("`--([a-z-]+)").FindAllStringSubmatch(text[start:start+end], -1)
	if len(names) < 5 {
		t.Fatalf("found only %d flags in the README's sentence", len(names))
	}
	for _, n := range names {
		if n[1] == "help" {
			continue
		}
		if _, err := parseFlags([]string{"--" + n[1] + "=" + sample(n[1])}, io.Discard); err != nil {
			t.Errorf("the README names --%s, but the dev stack has no such flag: %v", n[1], err)
		}
	}
}

// sample is a value each kind of flag accepts.
func sample(name string) string {
	switch {
	case strings.HasSuffix(name, "-port"):
		return "1"
	case name == "no-demo" || name == "demo":
		return "true"
	case strings.HasSuffix(name, "-lead") || strings.HasSuffix(name, "-lag") || name == "demo-traffic":
		return "1s"
	}
	return "x"
}

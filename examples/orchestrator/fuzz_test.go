package main

import (
	"os"
	"testing"
)

// FuzzParseConfig feeds arbitrary text to the configuration parser and the
// validator: they return errors, never panic.
func FuzzParseConfig(f *testing.F) {
	sample, err := os.ReadFile("orchestrator.sample.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(sample))
	f.Add(minimal)
	f.Add("[http]\nlisten = 8080\n")
	f.Add("[[erp]]\nkind = \"workday\"\nfetch = [\"energy\"]\nenergy_report = \"/\"\n")
	f.Add("[transform.limits.\"a\"]\nrange = [1.0, 0.0]\nflat_line = 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := ParseConfig(text)
		if err != nil {
			return
		}
		_ = cfg.Validate(env(allSecrets))
		_ = cfg.Validate(env(nil))
	})
}

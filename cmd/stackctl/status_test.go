package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stackctl/stackctl/compose"
	"github.com/stackctl/stackctl/rotate/plan"
)

// TestPrintStatus: the text view names each value's source and, for a
// secret store, the store's version of the current value.
func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	made := now.Add(-36 * time.Hour)
	due := made.Add(90 * 24 * time.Hour)
	s := &plan.Status{Stack: "shop", CheckedAt: now, Objects: []plan.ObjectStatus{
		{Kind: compose.Secret, Key: "db_password", Source: "vault://secret/shop/db#password", StoreVersion: "3",
			Current: "shop_db_password.0123456789ab", Deployed: true, CreatedAt: &made, AgeSeconds: 36 * 3600,
			Policy: &plan.PolicyStatus{Every: "90d", Due: &due},
			Users:  []plan.Use{{Service: "api", Target: "db_password", Deployed: true, OnCurrent: true, Tasks: 2, TasksOnCurrent: 2}}},
		{Kind: compose.Config, Key: "nginx", Source: "nginx.conf", Current: "shop_nginx.ba9876543210"},
		{Kind: compose.Secret, Key: "tls", Source: "", Current: "tls"},
	}}
	var out bytes.Buffer
	printStatus(&out, s)
	for _, want := range []string{
		"SOURCE",
		"vault://secret/shop/db#password @3",
		"nginx.conf",
		"in 88d12h",
		"api:db_password (2/2 tasks)",
		"not deployed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(out.String(), "\nsecret  tls          -  ") {
		t.Errorf("a value with no source shows - as its source:\n%s", out.String())
	}
}

package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	o, err := parse([]string{"--agent", "10.0.0.5:8888", "--meta=10.0.0.1:9559", "-hbs", "5", "--ratelimit", "100", "--debug"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.agent != "10.0.0.5:8888" || o.meta != "10.0.0.1:9559" || o.hbs != 5 || o.ratelimit != 100 || !o.debug {
		t.Errorf("parsed %+v", o)
	}
	if o, _ := parse(nil, io.Discard); o.agent != ":8888" || o.hbs != 60 || o.ratelimit != 0 {
		t.Errorf("defaults %+v", o)
	}
	for _, bad := range [][]string{{"--hbs", "0"}, {"--ratelimit", "-1"}, {"extra"}, {"--nope"}} {
		if _, err := parse(bad, io.Discard); err == nil {
			t.Errorf("parse(%q): want an error", bad)
		}
	}
}

func TestIdentity(t *testing.T) {
	if l, id, err := identity("127.0.0.9:8888"); err != nil || l != "127.0.0.9:8888" || id != l {
		t.Errorf("explicit: %s %s %v", l, id, err)
	}
	host, _ := os.Hostname()
	if l, id, err := identity(":8888"); err != nil || l != ":8888" || id != host+":8888" {
		t.Errorf("no host: %s %s %v", l, id, err)
	}
	for _, bad := range []string{"nohost", "h:0", "h:x"} {
		if _, _, err := identity(bad); err == nil || !strings.Contains(err.Error(), "--agent") {
			t.Errorf("identity(%q): %v", bad, err)
		}
	}
}

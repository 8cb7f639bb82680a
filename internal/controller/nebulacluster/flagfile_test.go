package nebulacluster

import "testing"

func TestMergeFlags(t *testing.T) {
	upstream := "\n########## basics ##########\n# a comment\n--daemonize=true\n--port=9779\n--audit_log_es_address=\n\n" +
		"########## Custom ##########\n--audit_log_es_address=es:9200\n--my_flag=x\n"
	for _, tc := range []struct {
		name, file string
		flags      map[string]string
		want       string
	}{
		{"set already: byte for byte", upstream, map[string]string{"port": "9779", "audit_log_es_address": "es:9200", "my_flag": "x"}, upstream},
		{"value on its line, the last defining it", upstream, map[string]string{"audit_log_es_address": "es:9300"},
			"\n########## basics ##########\n# a comment\n--daemonize=true\n--port=9779\n--audit_log_es_address=\n\n" +
				"########## Custom ##########\n--audit_log_es_address=es:9300\n--my_flag=x\n"},
		{"new flags under the existing Custom section", upstream, map[string]string{"b": "2", "a": "1"}, upstream + "--a=1\n--b=2\n"},
		{"a Custom section added", "--port=1\n--port=2", map[string]string{"port": "3", "v": "1"},
			"--port=1\n--port=3\n\n########## Custom ##########\n--v=1\n"},
		{"line ends kept", "--port=1\r\n# x\r\n", map[string]string{"port": "2"}, "--port=2\r\n# x\r\n"},
		{"nothing to set", "# only\n", nil, "# only\n"},
	} {
		if got := mergeFlags(tc.file, tc.flags); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
		// Merging again changes nothing.
		if got := mergeFlags(tc.want, tc.flags); got != tc.want {
			t.Errorf("%s: not idempotent: %q", tc.name, got)
		}
	}
}

// The flag file's hash is the one upstream records (nebula-graph.io/cm-hash):
// the first 16 hex digits of its SHA-512.
func TestConfigHash(t *testing.T) {
	if got := configHash(""); got != "cf83e1357eefb8bd" {
		t.Errorf("configHash(\"\") = %s", got)
	}
}

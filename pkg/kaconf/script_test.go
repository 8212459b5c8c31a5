package kaconf

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestClassify(t *testing.T) {
	type result struct {
		Type     string
		URL      string
		Insecure bool
		CAFile   string
		Cert     string
		Key      string
		Address  string
		Command  []string
		Timeout  time.Duration
		Shell    bool
		Assumed  bool
		Remarks  int
	}
	tests := []struct {
		script string
		want   result
	}{
		// Native checks.
		{"curl -sfk https://localhost:6443/healthz",
			result{Type: "https", URL: "https://localhost:6443/healthz", Insecure: true}},
		{"/usr/bin/curl -fsS -o /dev/null --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:6443/livez",
			result{Type: "https", URL: "https://127.0.0.1:6443/livez", CAFile: "/etc/kubernetes/pki/ca.crt"}},
		{"curl -f -m0.5 --cert /etc/c.pem --key /etc/k.pem https://[2001:db8::1]:8443/",
			result{Type: "https", URL: "https://[2001:db8::1]:8443/", Cert: "/etc/c.pem", Key: "/etc/k.pem", Timeout: 500 * time.Millisecond}},
		{"curl -f -E /etc/both.pem https://127.0.0.1/",
			result{Type: "https", URL: "https://127.0.0.1/", Cert: "/etc/both.pem", Key: "/etc/both.pem"}},
		{"curl -sf localhost:8080/health",
			result{Type: "http", URL: "http://localhost:8080/health"}},
		{"curl --fail --connect-timeout=1 -X GET http://127.0.0.1/",
			result{Type: "http", URL: "http://127.0.0.1/", Timeout: time.Second}},
		{"timeout 3 curl -sf http://127.0.0.1/",
			result{Type: "http", URL: "http://127.0.0.1/", Timeout: 3 * time.Second}},
		{"nc -z 127.0.0.1 6443", result{Type: "tcp", Address: "127.0.0.1:6443"}},
		{"/bin/nc -zv -w2 ::1 6443", result{Type: "tcp", Address: "[::1]:6443"}},
		{"ncat -z -w 1 localhost 80", result{Type: "tcp", Address: "localhost:80"}},
		{"</dev/tcp/127.0.0.1/6443", result{Type: "tcp", Address: "127.0.0.1:6443", Remarks: 1}},
		{"/bin/bash -c 'echo > /dev/tcp/127.0.0.1/80'", result{Type: "tcp", Address: "127.0.0.1:80"}},
		{"bash -c 'curl -sf http://127.0.0.1/'", result{Type: "http", URL: "http://127.0.0.1/"}},

		// Exec checks.
		{"/etc/keepalived/check_apiserver.sh", result{Type: "exec", Command: []string{"/etc/keepalived/check_apiserver.sh"}}},
		{"killall -0 haproxy", result{Type: "exec", Command: []string{"/usr/bin/killall", "-0", "haproxy"}, Assumed: true}},
		{`/usr/local/bin/check "two words" 'and more' a\ b`,
			result{Type: "exec", Command: []string{"/usr/local/bin/check", "two words", "and more", "a b"}}},
		{"curl --silent --max-time 2 --insecure https://192.0.2.1:6443/readyz",
			result{Type: "exec", Command: []string{"/usr/bin/curl", "--silent", "--max-time", "2", "--insecure", "https://192.0.2.1:6443/readyz"}, Assumed: true, Remarks: 1}},
		{"curl -sfL http://127.0.0.1/",
			result{Type: "exec", Command: []string{"/usr/bin/curl", "-sfL", "http://127.0.0.1/"}, Assumed: true, Remarks: 1}},
		{"curl -sf -H 'Host: x' http://127.0.0.1/",
			result{Type: "exec", Command: []string{"/usr/bin/curl", "-sf", "-H", "Host: x", "http://127.0.0.1/"}, Assumed: true}},
		{"curl -sf -d x http://127.0.0.1/ http://127.0.0.2/",
			result{Type: "exec", Command: []string{"/usr/bin/curl", "-sf", "-d", "x", "http://127.0.0.1/", "http://127.0.0.2/"}, Assumed: true}},
		{"curl -sf ftp://127.0.0.1/",
			result{Type: "exec", Command: []string{"/usr/bin/curl", "-sf", "ftp://127.0.0.1/"}, Assumed: true}},
		{"curl -X POST -sf http://127.0.0.1/",
			result{Type: "exec", Command: []string{"/usr/bin/curl", "-X", "POST", "-sf", "http://127.0.0.1/"}, Assumed: true}},
		{"nc 127.0.0.1 6443", result{Type: "exec", Command: []string{"/usr/bin/nc", "127.0.0.1", "6443"}, Assumed: true}},
		{"nc -z 127.0.0.1 http", result{Type: "exec", Command: []string{"/usr/bin/nc", "-z", "127.0.0.1", "http"}, Assumed: true}},
		{"./check.sh", result{Type: "exec", Command: []string{"/check.sh"}, Assumed: true}},
		{"timeout 2 /usr/local/bin/check", result{Type: "exec", Command: []string{"/usr/bin/timeout", "2", "/usr/local/bin/check"}, Assumed: true}},

		// keepalived runs no shell: its syntax is arguments.
		{"pidof haproxy || exit 1", result{Type: "exec", Command: []string{"/usr/bin/pidof", "haproxy", "||", "exit", "1"}, Assumed: true, Remarks: 1}},
		{"test -f $HOME/x", result{Type: "exec", Command: []string{"/usr/bin/test", "-f", "$HOME/x"}, Assumed: true, Remarks: 1}},
		{`test -f "$X"`, result{Type: "exec", Command: []string{"/usr/bin/test", "-f", "$X"}, Assumed: true, Remarks: 1}},
		{"ls /tmp/*.pid", result{Type: "exec", Command: []string{"/usr/bin/ls", "/tmp/*.pid"}, Assumed: true, Remarks: 1}},
		{`/usr/local/bin/check 'it\'s' \x41\101\t`, result{Type: "exec", Command: []string{"/usr/local/bin/check", "it's", "AA\t"}}},
		{"'/usr/bin/$x' a", result{Type: "exec", Command: []string{"/usr/bin/$x", "a"}}},
		{"/bin/bash -c 'if [[ $(pgrep haproxy) ]]; then exit 0; fi; exit 1'",
			result{Type: "exec", Command: []string{"/bin/bash", "-c", "if [[ $(pgrep haproxy) ]]; then exit 0; fi; exit 1"}}},

		// "</..." runs in /bin/sh.
		{"cat </dev/tcp/127.0.0.1/80 | head -1", result{Type: "exec", Command: []string{"/usr/bin/cat", "</dev/tcp/127.0.0.1/80", "|", "head", "-1"}, Assumed: true, Remarks: 1}},
		{"</etc/keepalived/flag", result{Type: "exec", Command: []string{"/bin/sh", "-c", "</etc/keepalived/flag"}, Shell: true}},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			p, err := classify(tt.script)
			if err != nil {
				t.Fatal(err)
			}
			got := result{
				Type: p.typ, URL: p.url, Insecure: p.insecure, CAFile: p.caFile, Cert: p.certFile, Key: p.keyFile,
				Address: p.address, Command: p.command, Timeout: p.timeout, Shell: p.shell,
				Assumed: p.defaultProgramPath, Remarks: len(p.remarks),
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestClassifyErrors(t *testing.T) {
	for _, s := range []string{`a "b`, "a 'b", "   "} {
		if _, err := classify(s); err == nil {
			t.Errorf("classify(%q) succeeded", s)
		}
	}
}

func TestCommandText(t *testing.T) {
	tests := []struct {
		line  string
		text  string
		extra bool
	}{
		{`script "killall -0 haproxy"`, "killall -0 haproxy", false},
		{`script /etc/keepalived/check.sh`, "/etc/keepalived/check.sh", false},
		{`script /usr/bin/check --fast`, "/usr/bin/check", true},
		{`script "/bin/sh -c 'exit 0'"`, "/bin/sh -c 'exit 0'", false},
		{`notify "/usr/bin/notify VI_1" root`, "/usr/bin/notify VI_1", false},
		{`notify /usr/bin/notify root root`, "/usr/bin/notify", false},
	}
	for _, tt := range tests {
		segs, err := splitWords(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		s := &stmt{words: segs, rest: tt.line[len(segs[0])+1:]}
		text, extra, err := commandText(s)
		if err != nil {
			t.Fatalf("%s: %v", tt.line, err)
		}
		if text != tt.text || extra != tt.extra {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.line, text, extra, tt.text, tt.extra)
		}
	}
}

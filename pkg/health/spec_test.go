package health

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Spec
		want Spec
	}{
		{
			name: "https",
			in:   Spec{Name: "api", Type: TypeHTTPS},
			want: Spec{Name: "api", Type: TypeHTTPS, ExpectStatus: []int{200},
				Interval: time.Second, Timeout: 750 * time.Millisecond, Rise: 2, Fall: 2},
		},
		{
			name: "tcp has no expect_status",
			in:   Spec{Name: "lb", Type: TypeTCP},
			want: Spec{Name: "lb", Type: TypeTCP,
				Interval: time.Second, Timeout: 750 * time.Millisecond, Rise: 2, Fall: 2},
		},
		{
			name: "exec",
			in:   Spec{Name: "x", Type: TypeExec},
			want: Spec{Name: "x", Type: TypeExec,
				Interval: 2 * time.Second, Timeout: 1500 * time.Millisecond, Rise: 2, Fall: 2},
		},
		{
			name: "timeout follows the interval",
			in:   Spec{Name: "api", Type: TypeHTTP, Interval: 200 * time.Millisecond},
			want: Spec{Name: "api", Type: TypeHTTP, ExpectStatus: []int{200},
				Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, Rise: 2, Fall: 2},
		},
		{
			name: "default timeout is capped",
			in:   Spec{Name: "x", Type: TypeExec, Interval: time.Minute},
			want: Spec{Name: "x", Type: TypeExec,
				Interval: time.Minute, Timeout: MaxDefaultTimeout, Rise: 2, Fall: 2},
		},
		{
			name: "set values are kept",
			in: Spec{Name: "api", Type: TypeHTTP, ExpectStatus: []int{200, 204},
				Interval: 300 * time.Millisecond, Timeout: 100 * time.Millisecond, Rise: 1, Fall: 5},
			want: Spec{Name: "api", Type: TypeHTTP, ExpectStatus: []int{200, 204},
				Interval: 300 * time.Millisecond, Timeout: 100 * time.Millisecond, Rise: 1, Fall: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.WithDefaults()); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := map[string]Spec{
		"http":  {Name: "api", Type: TypeHTTP, URL: "http://127.0.0.1:10256/healthz"},
		"https": {Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1:6443/readyz", CAFile: "/etc/kubernetes/pki/ca.crt"},
		"tcp":   {Name: "haproxy", Type: TypeTCP, Address: "127.0.0.1:8443"},
		"tcp6":  {Name: "haproxy", Type: TypeTCP, Address: "[::1]:8443"},
		"exec":  {Name: "custom", Type: TypeExec, Command: []string{"/usr/local/lib/vipd/check-ingress", "--quick"}},

		"server_name":               {Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1:6443/readyz", CAFile: "/etc/kubernetes/pki/ca.crt", ServerName: "kubernetes"},
		"server_name, system roots": {Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1:6443/readyz", ServerName: "api.example.com"},
		"server_name IPv4":          {Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1:6443/readyz", ServerName: "192.0.2.100"},
		"server_name IPv6":          {Name: "api", Type: TypeHTTPS, URL: "https://[::1]:6443/readyz", ServerName: "2001:db8::100"},
	}
	for name, s := range good {
		if err := s.WithDefaults().Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	tests := []struct {
		name string
		in   Spec
		want []string // "key: message", in order
	}{
		{
			name: "no name, no type",
			in:   Spec{},
			want: []string{"name: name is missing", "type: type is missing; one of http, https, tcp, exec, process"},
		},
		{
			name: "reserved name",
			in:   Spec{Name: "link:eth0", Type: TypeTCP, Address: "127.0.0.1:1"},
			want: []string{`name: name "link:eth0": the prefix "link:" is reserved for tracked interfaces`},
		},
		{
			name: "bad name",
			in:   Spec{Name: "my check", Type: TypeTCP, Address: "127.0.0.1:1"},
			want: []string{`name: name "my check": use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`},
		},
		{
			name: "unknown type",
			in:   Spec{Name: "x", Type: "icmp"},
			want: []string{`type: unknown type "icmp"; one of http, https, tcp, exec, process`},
		},
		{
			name: "missing url",
			in:   Spec{Name: "api", Type: TypeHTTPS},
			want: []string{"url: url is missing; an https check GETs a URL such as https://127.0.0.1:6443/readyz"},
		},
		{
			name: "scheme does not match type",
			in:   Spec{Name: "api", Type: TypeHTTPS, URL: "http://127.0.0.1:6443/readyz"},
			want: []string{`url: url "http://127.0.0.1:6443/readyz": an https check needs an https:// URL`},
		},
		{
			name: "url without host",
			in:   Spec{Name: "api", Type: TypeHTTP, URL: "http:///readyz"},
			want: []string{`url: url "http:///readyz" has no host`},
		},
		{
			name: "missing address",
			in:   Spec{Name: "lb", Type: TypeTCP},
			want: []string{"address: address is missing; a tcp check connects to host:port"},
		},
		{
			name: "address without port",
			in:   Spec{Name: "lb", Type: TypeTCP, Address: "127.0.0.1"},
			want: []string{`address: address "127.0.0.1": address 127.0.0.1: missing port in address`},
		},
		{
			name: "address with bad port",
			in:   Spec{Name: "lb", Type: TypeTCP, Address: "127.0.0.1:https"},
			want: []string{`address: address "127.0.0.1:https": port "https" is not a number from 1 to 65535`},
		},
		{
			name: "missing command",
			in:   Spec{Name: "x", Type: TypeExec},
			want: []string{"command: command is missing; an exec check runs [program, args...]"},
		},
		{
			name: "relative program",
			in:   Spec{Name: "x", Type: TypeExec, Command: []string{"check.sh"}},
			want: []string{`command: program "check.sh" must be an absolute path (no shell and no PATH lookup are used)`},
		},
		{
			name: "keys of other types",
			in: Spec{Name: "lb", Type: TypeTCP, Address: "127.0.0.1:1", URL: "http://x/", CAFile: "/ca",
				InsecureSkipVerify: true, ExpectStatus: []int{200}, Command: []string{"/bin/true"}},
			want: []string{
				"url: url applies only to http and https checks",
				"ca_file: ca_file applies only to https checks",
				"insecure_skip_verify: insecure_skip_verify applies only to https checks",
				"expect_status: expect_status applies only to http and https checks",
				"command: command applies only to exec checks",
			},
		},
		{
			name: "client cert on http",
			in:   Spec{Name: "api", Type: TypeHTTP, URL: "http://127.0.0.1/", CertFile: "/c", KeyFile: "/k"},
			want: []string{"cert_file: cert_file applies only to https checks", "key_file: key_file applies only to https checks"},
		},
		{
			name: "tls conflicts",
			in:   Spec{Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1/", CAFile: "/ca", InsecureSkipVerify: true, CertFile: "/c"},
			want: []string{"insecure_skip_verify: insecure_skip_verify and ca_file exclude each other", "cert_file: cert_file and key_file go together"},
		},
		{
			name: "server_name on http",
			in:   Spec{Name: "api", Type: TypeHTTP, URL: "http://127.0.0.1/", ServerName: "kubernetes"},
			want: []string{"server_name: server_name applies only to https checks"},
		},
		{
			name: "server_name on tcp",
			in:   Spec{Name: "api", Type: TypeTCP, Address: "127.0.0.1:6443", ServerName: "kubernetes"},
			want: []string{"server_name: server_name applies only to https checks"},
		},
		{
			name: "server_name and insecure_skip_verify",
			in:   Spec{Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1/", ServerName: "kubernetes", InsecureSkipVerify: true},
			want: []string{"insecure_skip_verify: insecure_skip_verify and server_name exclude each other: no name is verified without verifying the server"},
		},
		{
			name: "server_name with a port",
			in:   Spec{Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1/", ServerName: "kubernetes:6443"},
			want: []string{`server_name: server_name "kubernetes:6443" is not a DNS name or IP address (no scheme, port or wildcard)`},
		},
		{
			name: "server_name is a URL",
			in:   Spec{Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1/", ServerName: "https://kubernetes"},
			want: []string{`server_name: server_name "https://kubernetes" is not a DNS name or IP address (no scheme, port or wildcard)`},
		},
		{
			name: "server_name is a wildcard",
			in:   Spec{Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1/", ServerName: "*.example.com"},
			want: []string{`server_name: server_name "*.example.com" is not a DNS name or IP address (no scheme, port or wildcard)`},
		},
		{
			name: "server_name with a zone",
			in:   Spec{Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1/", ServerName: "fe80::1%eth0"},
			want: []string{`server_name: server_name "fe80::1%eth0" is not a DNS name or IP address (no scheme, port or wildcard)`},
		},
		{
			name: "server_name with an empty label",
			in:   Spec{Name: "api", Type: TypeHTTPS, URL: "https://127.0.0.1/", ServerName: "kubernetes..svc"},
			want: []string{`server_name: server_name "kubernetes..svc" is not a DNS name or IP address (no scheme, port or wildcard)`},
		},
		{
			name: "bad status",
			in:   Spec{Name: "api", Type: TypeHTTP, URL: "http://127.0.0.1/", ExpectStatus: []int{200, 99, 600}},
			want: []string{"expect_status: expect_status 99 is not an HTTP status (100 to 599)", "expect_status: expect_status 600 is not an HTTP status (100 to 599)"},
		},
		{
			name: "interval below minimum",
			in:   Spec{Name: "lb", Type: TypeTCP, Address: "127.0.0.1:1", Interval: 40 * time.Millisecond, Timeout: 30 * time.Millisecond},
			want: []string{"interval: interval 40ms is below the minimum of 50ms for tcp checks"},
		},
		{
			name: "exec interval below minimum",
			in:   Spec{Name: "x", Type: TypeExec, Command: []string{"/bin/true"}, Interval: 500 * time.Millisecond},
			want: []string{"interval: interval 500ms is below the minimum of 1s for exec checks"},
		},
		{
			name: "timeout not shorter than interval",
			in:   Spec{Name: "lb", Type: TypeTCP, Address: "127.0.0.1:1", Interval: 200 * time.Millisecond, Timeout: 200 * time.Millisecond},
			want: []string{"timeout: timeout 200ms must be shorter than interval 200ms"},
		},
		{
			name: "negative timeout",
			in:   Spec{Name: "lb", Type: TypeTCP, Address: "127.0.0.1:1", Timeout: -time.Second},
			want: []string{"timeout: timeout -1s must be positive"},
		},
		{
			name: "rise and fall out of range",
			in:   Spec{Name: "lb", Type: TypeTCP, Address: "127.0.0.1:1", Rise: 101, Fall: -1},
			want: []string{"rise: rise 101 is out of range 1 to 100", "fall: fall -1 is out of range 1 to 100"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.WithDefaults().Validate()
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var se *SpecError
				if !errors.As(e, &se) {
					t.Fatalf("%T is not a *SpecError: %v", e, e)
				}
				if se.Check != tt.in.Name {
					t.Errorf("SpecError.Check = %q, want %q", se.Check, tt.in.Name)
				}
				got = append(got, se.Key+": "+se.Msg)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
			if want := `check "` + tt.in.Name + `": `; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

func TestValidateZeroIsInvalid(t *testing.T) {
	// Validate checks the spec as given: without WithDefaults the zero
	// interval and counts are errors, not silently defaulted.
	err := Spec{Name: "lb", Type: TypeTCP, Address: "127.0.0.1:1"}.Validate()
	for _, key := range []string{"interval 0s", "timeout 0s", "rise 0", "fall 0"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate() = %v, want a problem with %s", err, key)
		}
	}
}

func TestStateString(t *testing.T) {
	got := []string{Unknown.String(), Healthy.String(), Unhealthy.String(), State(7).String()}
	want := []string{"unknown", "healthy", "unhealthy", "State(7)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

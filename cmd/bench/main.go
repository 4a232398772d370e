// Command bench measures the portal as `make bench` reports it, and
// prints one table: the user page against the floor of its stack (the
// least an echo page making the same Graph round trips can cost), Graph
// requests per page and per issue, the page's wall time over one Graph
// call, latency under 100 operators, memory, first-load bytes, and the
// history's page latency and export rate on a million records.
//
// The portal runs as in production, `portal serve`, against the demo
// tenant (the Graph emulator and the demo OpenID provider), which runs in
// this process: the portal's CPU time and memory are its own, not the
// emulator's. The floor's JSON server runs here too, for the same reason.
// Both are loaded with wrk, one after the other, in the same run. For the
// pages-per-second comparison Graph is replayed (see replay): the
// emulator's answers, recorded, are served as the floor's JSON server
// serves its reply, so that the emulator's CPU on the same two cores is
// not counted against the page; the table also gives the figure with the
// emulator answering.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

func main() {
	if len(os.Args) == 6 && os.Args[1] == "floor" {
		calls, _ := strconv.Atoi(os.Args[4])
		ca, err := os.ReadFile(os.Args[5])
		if err == nil {
			err = runFloor(context.Background(), os.Args[2], os.Args[3], calls, ca)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.portal, "portal", "bin/portal", "the portal binary to measure")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of floor and user page, one after the other")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "how long each wrk run lasts")
	flag.BoolVar(&o.history, "history", true, "run the history benchmarks on a million records (minutes the first time)")
	flag.StringVar(&o.user, "user", graphemu.NoRoleUserID, "the user whose page is measured")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	portal   string
	rounds   int
	duration time.Duration
	history  bool
	user     string
}

// floorCalls is how many HTTPS calls the floor makes per page: as many as
// the portal's user page made before its reads went into one batch.
const floorCalls = 5

// latency is the Graph latency of the wall-time and load measurements.
const latency = 50 * time.Millisecond

func run(o options) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is needed: apt-get install -y wrk")
	}
	tmp, err := os.MkdirTemp("", "tapportal-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	t := &table{}

	// The demo tenant, here; the portal, as its own process.
	portalAddr, floorAddr := freeAddr(), freeAddr()
	cfg := config.Config{PublicURL: &url.URL{Scheme: "http", Host: portalAddr}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	demo, err := app.StartDemo(&cfg, tmp, quiet)
	if err != nil {
		return err
	}
	defer demo.Close()
	// The portal reaches Graph through the replay, which passes every
	// request on to the emulator until the page rounds replay it.
	graphReplay, replaySrv, err := startReplay(demo.Graph.URL(), demo.Graph.CertPool())
	if err != nil {
		return err
	}
	defer replaySrv.Close()
	caFile := filepath.Join(tmp, "emulator-ca.pem")
	if err := os.WriteFile(caFile, append(demo.Graph.CACertPEM(), pemCert(replaySrv.Certificate().Raw)...), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(),
		"PORTAL_ADDR="+portalAddr, "PORTAL_PUBLIC_URL=http://"+portalAddr,
		"PORTAL_DATABASE_URL=sqlite:"+filepath.Join(tmp, "portal.db"),
		"PORTAL_OIDC_ISSUER="+cfg.OIDCIssuer, "PORTAL_OIDC_CLIENT_ID="+cfg.OIDCClientID, "PORTAL_OIDC_CLIENT_SECRET="+cfg.OIDCClientSecret,
		"PORTAL_GRAPH_TENANT_ID="+cfg.GraphTenantID, "PORTAL_GRAPH_CLIENT_ID="+cfg.GraphClientID, "PORTAL_GRAPH_CERT_FILE="+cfg.GraphCertFile,
		"PORTAL_GRAPH_BASE_URL="+replaySrv.URL, "PORTAL_GRAPH_AUTHORITY_URL="+cfg.GraphAuthorityURL, "PORTAL_EXTRA_CA_FILE="+caFile,
		"PORTAL_SESSION_KEYS="+strings.Join(cfg.SessionKeys, ","), "PORTAL_AUDIT_KEY="+strings.Join(cfg.AuditKeys, ","),
		"PORTAL_PROTECTED_GROUP_IDS="+strings.Join(cfg.ProtectedGroupIDs, ","),
	)
	portal, err := start(tmp, "portal", env, o.portal, "serve")
	if err != nil {
		return err
	}
	defer portal.stop()
	base := "http://" + portalAddr
	if err := waitHealthy(base, portal); err != nil {
		return err
	}
	cookie, err := signIn(base, "operator")
	if err != nil {
		return err
	}
	page := base + "/users/" + o.user
	if code, err := get(page, cookie); err != nil || code != http.StatusOK {
		return fmt.Errorf("the user page answered %d, %v after sign-in", code, err)
	}

	// Idle: signed in, one page served, the start-up probes of Graph
	// permissions over.
	time.Sleep(3 * time.Second)
	idle, err := status(portal.pid())
	if err != nil {
		return err
	}
	// Graph requests per page and per issue.
	demo.Graph.ResetRequests()
	get(page, cookie)
	trips, items := graphRequests(demo.Graph.Requests())
	t.add("Graph per user page", fmt.Sprintf("%d round trips, %d requests", trips, items), "")
	if trips, items, err := issueRequests(base, cookie, demo.Graph); err != nil {
		return err
	} else {
		t.add("Graph per issue", fmt.Sprintf("%d round trips, %d requests", trips, items), "")
	}

	bytes, requests, err := firstLoad(page, cookie)
	if err != nil {
		return err
	}
	t.add("first-load bytes (brotli)", fmt.Sprintf("%d bytes in %d requests", bytes, requests), "at most 30,000")

	// The floor, in its own process, with its JSON server here.
	backend := startFloorBackend()
	defer backend.Close()
	floorCA := filepath.Join(tmp, "floor-ca.pem")
	if err := os.WriteFile(floorCA, pemCert(backend.Certificate().Raw), 0o600); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	floor, err := start(tmp, "floor", os.Environ(), self, "floor", floorAddr, backend.URL, strconv.Itoa(floorCalls), floorCA)
	if err != nil {
		return err
	}
	defer floor.stop()
	floorURL := "http://" + floorAddr + "/user"
	if err := waitFor(floorURL, floor); err != nil {
		return err
	}

	// Rounds of floor and page, each warmed first: the page with Graph
	// replayed (see replay), then with the emulator answering, whose CPU
	// is then this process's.
	runWrk(floorURL, 32, 2*time.Second, "")
	runWrk(page, 32, 2*time.Second, cookie)
	var rateRatios, cpuRatios, liveRatios, allInRatios []float64
	var emuCPU []float64
	for r := range o.rounds {
		// The bench's own CPU while the floor runs: its JSON server's.
		srv0, _ := cpuTime(os.Getpid())
		f, fcpu, err := measure(floorURL, "", floor, o.duration)
		if err != nil {
			return err
		}
		srv1, _ := cpuTime(os.Getpid())
		floorSrvCPU := (srv1 - srv0) / time.Duration(f.requests)
		graphReplay.on.Store(true)
		before, missedBefore := graphReplay.replayed.Load(), graphReplay.missed.Load()
		p, pcpu, err := measure(page, cookie, portal, o.duration)
		graphReplay.on.Store(false)
		if err != nil {
			return err
		}
		if replayed := graphReplay.replayed.Load() - before; replayed < int64(p.requests) {
			return fmt.Errorf("the replay answered %d Graph requests for %d pages: the page's reads are not the ones recorded", replayed, p.requests)
		}
		// A read now and then that the recording lacks (a cached policy
		// read afresh) costs the emulator little; more would measure it.
		if missed := graphReplay.missed.Load() - missedBefore; missed*100 > int64(p.requests) {
			return fmt.Errorf("%d Graph requests for %d pages were not in the recording and went to the emulator", missed, p.requests)
		}
		// The bench's own CPU while the emulator answers: the emulator's,
		// and the replay's passing each request on.
		self0, _ := cpuTime(os.Getpid())
		live, livecpu, err := measure(page, cookie, portal, o.duration)
		if err != nil {
			return err
		}
		self1, _ := cpuTime(os.Getpid())
		emu := (self1 - self0) / time.Duration(live.requests)
		emuCPU = append(emuCPU, float64(emu))
		allInRatios = append(allInRatios, float64(fcpu+floorSrvCPU)/float64(livecpu+emu))
		rateRatios = append(rateRatios, p.rate/f.rate)
		liveRatios = append(liveRatios, live.rate/f.rate)
		cpuRatios = append(cpuRatios, float64(fcpu)/float64(pcpu))
		fmt.Fprintf(os.Stderr, "round %d of %d: floor %.0f/s at %s CPU a page; user page %.0f/s at %s CPU a page (Graph replayed), %.0f/s (Graph emulated)\n",
			r+1, o.rounds, f.rate, fcpu.Round(time.Microsecond), p.rate, pcpu.Round(time.Microsecond), live.rate)
	}
	t.add("user page / floor, pages per second (Graph replayed)", fmt.Sprintf("%.2f (median of %d rounds)", median(rateRatios), len(rateRatios)), "at least 1")
	t.add("user page / floor, CPU a page", fmt.Sprintf("%.2f (floor CPU over portal CPU)", median(cpuRatios)), "at least 1")
	t.add("user page / floor, pages per second (Graph emulated)", fmt.Sprintf("%.2f (the emulator's CPU counted against the page)", median(liveRatios)), "")
	t.add("Graph emulator and replay CPU a user page (kept out of the above)", time.Duration(median(emuCPU)).Round(time.Microsecond).String(), "")
	t.add("user page / floor, CPU a page with each one's server counted", fmt.Sprintf("%.2f (floor and its JSON server over portal, replay and emulator)", median(allInRatios)), "")

	// One Graph call of 50 ms: a page should take hardly longer.
	remove := demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/**", Latency: latency})
	var walls []float64
	for range 30 {
		start := time.Now()
		if code, err := get(page, cookie); err != nil || code != http.StatusOK {
			remove()
			return fmt.Errorf("the user page answered %d, %v under latency", code, err)
		}
		walls = append(walls, float64(time.Since(start))/float64(latency))
	}
	t.add("user page wall time over one 50 ms Graph call", fmt.Sprintf("%.2f (median of 30)", median(walls)), "at most 1.1")
	ops, err := runWrk(page, 100, 10*time.Second, cookie)
	remove()
	if err != nil {
		return err
	}
	t.add("p99 under 100 operators (50 ms Graph)", fmt.Sprintf("%s (p50 %s, %.0f pages/s)", ops.p99.Round(time.Millisecond), ops.p50.Round(time.Millisecond), ops.rate), "")
	_, peak, err := memory(portal.pid())
	if err != nil {
		return err
	}
	t.add("RSS idle, peak (portal serve)", fmt.Sprintf("%.1f MiB (%.1f of it the binary's pages), %.1f MiB", mib(idle["VmRSS"]), mib(idle["RssFile"]), mib(peak)), "at most 40 and 120 MiB")

	if o.history {
		if err := historyRows(t); err != nil {
			return err
		}
	}
	t.print(os.Stdout)
	return nil
}

// measure loads url for d and returns wrk's figures with the CPU time p
// spent a page meanwhile.
func measure(url, cookie string, p *child, d time.Duration) (wrkResult, time.Duration, error) {
	before, err := cpuTime(p.pid())
	if err != nil {
		return wrkResult{}, 0, err
	}
	r, err := runWrk(url, 32, d, cookie)
	if err != nil {
		return wrkResult{}, 0, err
	}
	after, err := cpuTime(p.pid())
	if err != nil {
		return wrkResult{}, 0, err
	}
	if r.requests == 0 {
		return wrkResult{}, 0, fmt.Errorf("wrk %s: no requests", url)
	}
	return r, (after - before) / time.Duration(r.requests), nil
}

// graphRequests counts round trips to Graph (a batch once) and requests
// as Graph's limits count them (each item of a batch), tokens aside.
func graphRequests(reqs []graphemu.RequestRecord) (trips, items int) {
	for _, r := range reqs {
		if strings.HasSuffix(r.Path, "/token") {
			continue
		}
		if !r.Batched {
			trips++
		}
		if !strings.HasSuffix(r.Path, "/$batch") {
			items++
		}
	}
	return trips, items
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// table is the bench's report: one row per measure.
type table struct{ rows [][3]string }

func (t *table) add(measure, value, goal string) {
	t.rows = append(t.rows, [3]string{measure, value, goal})
}

func (t *table) print(w io.Writer) {
	widths := [3]int{len("measure"), len("value"), len("goal")}
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	line := func(r [3]string) {
		fmt.Fprintf(w, "| %-*s | %-*s | %-*s |\n", widths[0], r[0], widths[1], r[1], widths[2], r[2])
	}
	line([3]string{"measure", "value", "goal"})
	fmt.Fprintf(w, "|%s|%s|%s|\n", strings.Repeat("-", widths[0]+2), strings.Repeat("-", widths[1]+2), strings.Repeat("-", widths[2]+2))
	for _, r := range t.rows {
		line(r)
	}
}

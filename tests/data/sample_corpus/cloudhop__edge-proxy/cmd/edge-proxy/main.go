// Command edge-proxy is a small reverse proxy that rate-limits clients by IP
// before forwarding requests to the origin pool.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/cloudhop/edge-proxy/internal/limit"
)

type limitedProxy struct {
	proxy   *httputil.ReverseProxy
	buckets map[string]*limit.Bucket
	rate    float64
	burst   int
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (p *limitedProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r)
	b, ok := p.buckets[ip]
	if !ok {
		b = limit.NewBucket(p.rate, p.burst)
		p.buckets[ip] = b
	}
	if !b.Allow() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return
	}
	p.proxy.ServeHTTP(w, r)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8443", "address to listen on")
	origin := flag.String("origin", "http://10.0.0.5:8080", "origin base URL")
	rate := flag.Float64("rate", 20, "requests per second per client")
	burst := flag.Int("burst", 40, "burst size per client")
	flag.Parse()

	target, err := url.Parse(*origin)
	if err != nil {
		log.Fatalf("bad origin %q: %v", *origin, err)
	}
	handler := &limitedProxy{
		proxy:   httputil.NewSingleHostReverseProxy(target),
		buckets: make(map[string]*limit.Bucket),
		rate:    *rate,
		burst:   *burst,
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.Printf("edge-proxy listening on %s, forwarding to %s", *listen, target)
	log.Fatal(srv.ListenAndServe())
}

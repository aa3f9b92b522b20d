module github.com/baton-go/baton

go 1.25.0

require (
	github.com/go-resty/resty/v2 v2.16.2 // indirect
	github.com/prometheus/client_golang v1.23.2 // indirect
	github.com/sirupsen/logrus v1.10.2 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/net v0.43.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.35.0 // indirect
)

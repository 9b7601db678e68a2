"""What vigil knows, for the tools next to it: a Grafana dashboard and Prometheus rules
(`vigil export grafana`, `vigil export prometheus-rules`)."""

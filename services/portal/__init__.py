"""The portal: the web pages people use, a client of the other services' HTTP APIs (services/portal/README.md)."""

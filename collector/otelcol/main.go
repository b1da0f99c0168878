// Copyright The otelml Authors
// SPDX-License-Identifier: Apache-2.0

// Command otelcol-otelml is an OpenTelemetry Collector holding only the components that
// otelml's collector configs and end-to-end tests use. It is assembled by hand, the way the
// OpenTelemetry Collector Builder would generate it, so that building needs nothing but the Go
// module proxy.
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
)

// version names the collector release every module in go.mod is pinned to.
const version = "0.161.0-otelml"

func main() {
	settings := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol-otelml",
			Description: "OpenTelemetry Collector for otelml configs and tests",
			Version:     version,
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
			},
		},
	}
	if err := otelcol.NewCommand(settings).Execute(); err != nil {
		log.Fatalf("collector server run finished with error: %v", err)
	}
}

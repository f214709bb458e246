package main

import (
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
)

func TestReadinessFollowsPostgres(t *testing.T) {
	testkit.AssertReadinessFollowsPostgres(t, "auth", service.Runner(spec()))
}

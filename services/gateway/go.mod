module github.com/ihr-go/ihr/services/gateway

go 1.26

module github.com/ihr-go/ihr/services/cachewarmer

go 1.26

module github.com/ihr-go/ihr/services/query

go 1.26

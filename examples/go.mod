module github.com/ihr-go/ihr/examples

go 1.26.8

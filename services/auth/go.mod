module github.com/ihr-go/ihr/services/auth

go 1.26

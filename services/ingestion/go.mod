module github.com/ihr-go/ihr/services/ingestion

go 1.26

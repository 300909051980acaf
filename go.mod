module github.com/iamsentry/iamsentry

go 1.26.8

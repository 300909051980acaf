module github.com/iamsentry/iamsentry/deploy

go 1.26.8

replace github.com/iamsentry/iamsentry => ../

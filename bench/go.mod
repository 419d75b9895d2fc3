module github.com/portcullis/portcullis/bench

go 1.26.8

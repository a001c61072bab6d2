module github.com/rollcall/rollcall

go 1.26

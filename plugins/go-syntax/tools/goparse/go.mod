module sluice.dev/goparse

go 1.19

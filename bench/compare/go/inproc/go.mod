module murmur.local/bench/inproc

go 1.22

package localcommit

import "time"

func wallClock() int64 { return time.Now().UnixNano() }

package runner

import "time"

// GateLine is what a client started with -gate prints once it waits for
// the harness's go (SIGUSR1): its container start-up is then behind it,
// so the harness can begin a batch of timer measurements at once, beside
// no start-up at all.
const GateLine = "tcplab: gate"

// gateWait bounds the wait for the go: a harness gone by then is not
// coming back.
const gateWait = 10 * time.Minute

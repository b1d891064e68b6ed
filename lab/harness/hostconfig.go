package harness

import (
	"github.com/moby/moby/api/types/container"

	"github.com/tcplab/tcplab/lab/topology"
)

// timedShares is the CPU weight (cgroup cpu.shares; Docker's default is
// 1024) of every agent, which is the network in between and must not wait
// for a core, and of every node of a timer-sensitive run: when the cores
// are contended, the scheduler runs them first. A weight needs no
// capability. Real-time scheduling of the delay line's release thread
// would need CAP_SYS_NICE in the agent and, on cgroup v1, a real-time
// budget for the daemon's cgroup (dockerd --cpu-rt-runtime; it is 0 here),
// so the lab does not ask for it.
const timedShares = 4096

// Ulimits are topology.MaxOpenFiles and topology.MaxProcs as a
// HostConfig's Ulimits.
func Ulimits() []*container.Ulimit {
	return []*container.Ulimit{
		{Name: "nofile", Soft: topology.MaxOpenFiles, Hard: topology.MaxOpenFiles},
		{Name: "nproc", Soft: topology.MaxProcs, Hard: topology.MaxProcs},
	}
}

// hostConfig applies sysctls, capabilities (all dropped but caps), the
// CPU weight (0: Docker's default), the ulimits and the network namespace
// to join.
func hostConfig(sysctls map[string]string, netnsOf string, shares int64, caps ...string) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		hc.Sysctls = sysctls
		hc.Ulimits = Ulimits()
		hc.CPUShares = shares
		hc.CapDrop = []string{"ALL"}
		hc.CapAdd = caps
		if netnsOf != "" {
			hc.NetworkMode = container.NetworkMode("container:" + netnsOf)
		}
	}
}

package harness

import "context"

// LabBinary puts a static linux/arch lab binary at dst, as the image gets
// it (see labBinary): a VM kernel boots it as /init (lab/kernelrun).
func LabBinary(ctx context.Context, arch, dst string) error { return labBinary(ctx, arch, dst) }

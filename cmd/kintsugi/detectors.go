package main

import (
	"github.com/kintsugi-ir/kintsugi/internal/scan"
	"github.com/kintsugi-ir/kintsugi/internal/scan/damage"
)

// extraDetectors returns the detectors that plug into scan beyond YARA,
// IOCs and names: today the ransomware-damage detector.
func extraDetectors(o *scanOptions) []scan.Detector {
	return []scan.Detector{damage.New(damage.Options{})}
}

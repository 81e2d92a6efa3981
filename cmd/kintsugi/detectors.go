package main

import "github.com/kintsugi-ir/kintsugi/internal/scan"

// extraDetectors returns the detectors that plug into scan beyond YARA,
// IOCs and names.
func extraDetectors(o *scanOptions) []scan.Detector {
	return nil
}

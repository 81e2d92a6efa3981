// Package scan screens files: it walks evidence trees, reads every file
// once and streams its bytes through the hashers and every Detector, opens
// archives and scans their members the same way, and folds the findings into
// one verdict per file. Detectors live in sub-packages (yara, damage, ioc ...)
// and never import the case store or the CLI; cmd/kintsugi wires them.
package scan

package main

import "github.com/kintsugi-ir/kintsugi/internal/scan/yara"

func yaraVersion() string { return yara.Version() }

package damage

import "strings"

// nameHint reads what a file name claims: the format of the last extension
// that belongs to a known format, and any extensions appended after it
// ("report.docx.lockbit" claims docx and carries ".lockbit"). The name is
// only a hint: it tells which structure the content was expected to have
// and which extension ransomware may have added; it never decides a
// verdict by itself.
type nameHint struct {
	// split is set for the second and later pieces of a split file
	split    bool
	format   string // "" when no known extension
	ext      string // the known extension, lower case, without dot
	appended string // extensions after it, with their dots, as written
}

func hintFromName(name string) nameHint {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return nameHint{}
	}
	// parts[0] is the stem; look for the right-most known extension, but
	// not further left than four extensions from the end
	low := len(parts) - 4
	if low < 1 {
		low = 1
	}
	for i := len(parts) - 1; i >= low; i-- {
		ext := strings.ToLower(parts[i])
		if f := formatOfExt(ext); f != "" {
			h := nameHint{format: f, ext: ext}
			if i < len(parts)-1 {
				h.appended = "." + strings.Join(parts[i+1:], ".")
			}
			if i == len(parts)-2 && splitVolume(parts[i+1]) {
				// "movie.mp4.002", "backup.7z.003": a piece of a split
				// file starts wherever the cut fell, not with the format's
				// header; only the first piece does
				if strings.TrimLeft(parts[i+1], "0") != "1" {
					h.format, h.split = "", true
				}
			}
			return h
		}
	}
	return nameHint{appended: "." + parts[len(parts)-1]}
}

// splitVolume reports whether an extension numbers the pieces of a split
// file (".001", ".002" ...).
func splitVolume(ext string) bool {
	if len(ext) < 3 || len(ext) > 4 {
		return false
	}
	for _, c := range ext {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// formatOfExt maps an extension to the validator that knows its format.
func formatOfExt(ext string) string {
	switch ext {
	case "mp4", "m4v", "m4a", "m4b", "m4p", "mov", "qt", "3gp", "3g2", "heic", "heif",
		"avif", "f4v", "mj2", "crx", "cr3":
		return "mp4"
	case "mxf":
		return "mxf"
	case "mkv", "mka", "mks", "mk3d", "webm":
		return "matroska"
	case "avi", "wav", "wave", "webp", "ani", "rmi":
		return "riff"
	case "aif", "aiff", "aifc":
		return "aiff"
	case "mp3", "mp2", "mpga":
		return "mp3"
	case "ogg", "oga", "ogv", "opus", "spx":
		return "ogg"
	case "wmv", "wma", "asf":
		return "asf"
	case "mpg", "mpeg", "vob", "m2p", "m2v", "mpv":
		return "mpeg-ps"
	case "dpx", "cin":
		return "dpx"
	case "exr":
		return "exr"
	case "psd", "psb":
		return "psd"
	case "flac":
		return "flac"
	case "jpg", "jpeg", "jpe", "jfif":
		return "jpeg"
	case "png", "apng":
		return "png"
	case "gif":
		return "gif"
	case "tif", "tiff", "dng", "nef", "cr2", "arw", "pef", "srw", "sr2", "erf", "3fr", "nrw":
		return "tiff"
	case "bmp", "dib":
		return "bmp"
	case "pdf", "ai":
		return "pdf"
	case "zip", "docx", "xlsx", "pptx", "docm", "xlsm", "pptm", "dotx", "xltx", "potx",
		"odt", "ods", "odp", "odg", "jar", "apk", "epub", "idml", "vsdx", "kmz", "xpi":
		return "zip"
	case "7z":
		return "7z"
	case "rar":
		return "rar"
	case "gz", "tgz", "gzip":
		return "gzip"
	case "xz", "txz":
		return "xz"
	case "bz2", "tbz", "tbz2":
		return "bzip2"
	case "zst", "tzst":
		return "zstd"
	case "sqlite", "sqlite3", "db3":
		return "sqlite"
	case "exe", "dll", "sys", "ocx", "scr", "cpl", "efi":
		return "pe"
	case "so", "elf", "ko":
		return "elf"
	case "tar":
		return "tar"
	case "ts", "m2ts", "mts", "m2t":
		return "mpegts"
	case "doc", "xls", "ppt", "msg", "msi", "pub", "vsd":
		return "cfb"
	case "txt", "text", "csv", "tsv", "json", "jsonl", "ndjson", "html", "htm", "xml",
		"srt", "vtt", "ass", "ssa", "md", "log", "ini", "cfg", "conf", "yaml", "yml",
		"edl", "ale", "xmp", "svg", "css", "js", "sh", "bat", "ps1", "py", "go", "c",
		"h", "java", "sql", "rtf", "tex", "eml", "ics", "vcf", "fcpxml", "drp":
		return "text"
	}
	return ""
}

package damage

// format ties a signature to its validator.
type format struct {
	name string
	// sniff looks at the first bytes (up to 64 KiB) for the signature.
	sniff func(h []byte) bool
	// validate walks the structure of a file that carries the signature.
	validate func(v *vctx)
	// headless, when set, looks for the structure of a file whose head is
	// destroyed (the trailing index, central directory, footer partition).
	headless func(v *vctx)
	// tailIndex is set when headless can find structure from the end of
	// the file cheaply, so it is worth trying without a name hint.
	tailIndex bool
}

// formats lists the validators, most specific signature first. Text comes
// last: it has no signature and is recognised by content.
func formats() []format {
	return []format{
		{name: "mp4", sniff: sniffBMFF, validate: validateBMFF, headless: bmffHeadless, tailIndex: true},
		{name: "mxf", sniff: sniffMXF, validate: validateMXF, headless: mxfHeadless},
		{name: "matroska", sniff: sniffEBML, validate: validateEBML, headless: ebmlHeadless},
		{name: "riff", sniff: sniffRIFF, validate: validateRIFF, headless: riffHeadless},
		{name: "aiff", sniff: sniffAIFF, validate: validateRIFF},
		{name: "flac", sniff: sniffFLAC, validate: validateFLAC},
		{name: "ogg", sniff: sniffOgg, validate: validateOgg},
		{name: "asf", sniff: sniffASF, validate: validateASF},
		{name: "mpeg-ps", sniff: sniffMPEGPS, validate: validateMPEGPS},
		{name: "jpeg", sniff: sniffJPEG, validate: validateJPEG, headless: jpegHeadless},
		{name: "png", sniff: sniffPNG, validate: validatePNG},
		{name: "gif", sniff: sniffGIF, validate: validateGIF},
		{name: "tiff", sniff: sniffTIFF, validate: validateTIFF},
		{name: "bmp", sniff: sniffBMP, validate: validateBMP},
		{name: "psd", sniff: sniffPSD, validate: validatePSD},
		{name: "dpx", sniff: sniffDPX, validate: validateDPX},
		{name: "exr", sniff: sniffEXR, validate: validateEXR},
		{name: "pdf", sniff: sniffPDF, validate: validatePDF, headless: pdfHeadless, tailIndex: true},
		{name: "zip", sniff: sniffZIP, validate: validateZIP, headless: zipHeadless, tailIndex: true},
		{name: "7z", sniff: sniff7z, validate: validate7z},
		{name: "rar", sniff: sniffRAR, validate: validateRAR},
		{name: "gzip", sniff: sniffGzip, validate: validateGzip},
		{name: "xz", sniff: sniffXZ, validate: validateXZ, headless: xzHeadless, tailIndex: true},
		{name: "bzip2", sniff: sniffBzip2, validate: validateBzip2},
		{name: "zstd", sniff: sniffZstd, validate: validateZstd},
		{name: "tar", sniff: sniffTar, validate: validateTar},
		{name: "sqlite", sniff: sniffSQLite, validate: validateSQLite},
		{name: "cfb", sniff: sniffCFB, validate: validateCFB},
		{name: "elf", sniff: sniffELF, validate: validateELF},
		{name: "pe", sniff: sniffPE, validate: validatePE},
		{name: "mpegts", sniff: sniffTS, validate: validateTS},
		{name: "signature", sniff: sniffSigOnly, validate: validateSigOnly},
		// MP3 may start with bare frame sync, so it comes after the
		// formats with longer signatures
		{name: "mp3", sniff: sniffMP3, validate: validateMP3, headless: mp3Headless},
		{name: "text", sniff: sniffText, validate: validateText, headless: textHeadless},
	}
}

// formatByName returns the validator for a format name.
func formatByName(name string) (format, bool) {
	for _, f := range formats() {
		if f.name == name {
			return f, true
		}
	}
	return format{}, false
}

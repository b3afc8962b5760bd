//! File formats and compression recognised by extension, as the seed system's configuration
//! listed them. The format goes into the catalogue (and later drives metadata extraction); the
//! compression tells user-media requests not to compress a file twice.

/// (format, compression) of a file name.
pub fn classify(name: &str) -> (&'static str, &'static str) {
    let lower = name.to_ascii_lowercase();
    let (stem, compression) = if let Some(s) = lower.strip_suffix(".gz") {
        (s.to_owned(), "gzip")
    } else if let Some(s) = lower.strip_suffix(".fz") {
        (format!("{s}.fits"), "fpack")
    } else if let Some(s) = lower.strip_suffix(".bz2") {
        (s.to_owned(), "bzip2")
    } else if let Some(s) = lower.strip_suffix(".xz") {
        (s.to_owned(), "xz")
    } else if let Some(s) = lower.strip_suffix(".zst") {
        (s.to_owned(), "zstd")
    } else if let Some(s) = lower.strip_suffix(".z") {
        (s.to_owned(), "compress")
    } else {
        (lower, "none")
    };
    let ext = stem.rsplit_once('.').map_or("", |(_, e)| e);
    let format = match ext {
        "fits" | "fit" | "fts" => "fits",
        "txt" | "log" => "text",
        "json" => "json",
        "xml" | "vot" => "xml",
        "csv" | "tsv" => "table",
        "tar" => "tar",
        "jpg" | "jpeg" | "png" | "gif" => "image",
        "pdf" | "ps" => "document",
        "dat" | "bin" | "raw" => "binary",
        _ => "unknown",
    };
    (format, compression)
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn recognises_fits_and_its_compressed_forms() {
        assert_eq!(classify("ONTT.2024-01-01T01:02:03.fits"), ("fits", "none"));
        assert_eq!(classify("a.FITS.gz"), ("fits", "gzip"));
        assert_eq!(classify("a.fits.fz"), ("fits", "fpack"));
        assert_eq!(classify("notes.txt"), ("text", "none"));
        assert_eq!(classify("blob"), ("unknown", "none"));
    }
}

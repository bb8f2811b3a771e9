import Volumes

/// A result that could not be written: the file and the reason, in one line.
public typealias ExportError = PathError<ExportFailure>

/// Marks path errors that come from writing results.
public enum ExportFailure {}

import Volumes

/// A NIfTI read or write that failed, with the file and the reason in one line.
public typealias NIfTIError = PathError<NIfTIFailure>

/// Marks path errors that come from NIfTI reading and writing.
public enum NIfTIFailure {}

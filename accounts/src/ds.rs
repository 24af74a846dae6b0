//! Directory Services status codes (tDirStatus) used by the tools.

/// The subset of `tDirStatus` our tools can produce. The numbers are Apple's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsStatus {
    UnknownNodeName,
    PermissionError,
    InvalidRecordType,
    InvalidRecordName,
    AttributeNotFound,
    RecordAlreadyExists,
    RecordNotFound,
    SchemaError,
    AttributeValueNotFound,
    OperationFailed,
}

impl DsStatus {
    pub fn code(self) -> i32 {
        match self {
            DsStatus::UnknownNodeName => -14009,
            DsStatus::PermissionError => -14120,
            DsStatus::InvalidRecordType => -14130,
            DsStatus::InvalidRecordName => -14133,
            DsStatus::AttributeNotFound => -14134,
            DsStatus::RecordAlreadyExists => -14135,
            DsStatus::RecordNotFound => -14136,
            DsStatus::SchemaError => -14142,
            DsStatus::AttributeValueNotFound => -14143,
            DsStatus::OperationFailed => -14483,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DsStatus::UnknownNodeName => "eDSUnknownNodeName",
            DsStatus::PermissionError => "eDSPermissionError",
            DsStatus::InvalidRecordType => "eDSInvalidRecordType",
            DsStatus::InvalidRecordName => "eDSInvalidRecordName",
            DsStatus::AttributeNotFound => "eDSAttributeNotFound",
            DsStatus::RecordAlreadyExists => "eDSRecordAlreadyExists",
            DsStatus::RecordNotFound => "eDSRecordNotFound",
            DsStatus::SchemaError => "eDSSchemaError",
            DsStatus::AttributeValueNotFound => "eDSAttributeValueNotFound",
            DsStatus::OperationFailed => "eDSOperationFailed",
        }
    }

    /// The process exit status the real tools derive from a status:
    /// `(-status) & 0xFF`.
    pub fn exit_code(self) -> i32 {
        (-self.code()) & 0xFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_macos() {
        assert_eq!(DsStatus::RecordNotFound.exit_code(), 56);
        assert_eq!(DsStatus::UnknownNodeName.exit_code(), 185);
        assert_eq!(DsStatus::RecordAlreadyExists.exit_code(), 55);
        assert_eq!(DsStatus::PermissionError.exit_code(), 40);
        assert_eq!(DsStatus::AttributeNotFound.exit_code(), 54);
        assert_eq!(DsStatus::AttributeValueNotFound.exit_code(), 63);
        // dseditgroup returns the raw status from main(): the low byte of -14136.
        assert_eq!(DsStatus::RecordNotFound.code() & 0xFF, 200);
    }
}

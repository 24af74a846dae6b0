//! Directory Services status codes (tDirStatus) used by the tools.

/// The subset of `tDirStatus` our tools can produce. The numbers are Apple's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsStatus {
    /// -14009: the path names no directory node (dscl's "Invalid Path").
    UnknownNodeName,
    /// -14120: the change is not allowed: the caller is neither root nor
    /// under Darling's `sudo`, or the OS refused access to the files.
    PermissionError,
    /// -14130: a record type the local node does not have (only Users and
    /// Groups exist).
    InvalidRecordType,
    /// -14133: a record or member name the files cannot hold (see
    /// [`crate::validate::name`]).
    InvalidRecordName,
    /// -14134: the record has no such attribute.
    AttributeNotFound,
    /// -14135: the name, or the UniqueID / PrimaryGroupID, is already taken by
    /// another record of the same type.
    RecordAlreadyExists,
    /// -14136: no record of that type has that name.
    RecordNotFound,
    /// -14142: a value the attribute cannot take (bad id, `:` in a file field,
    /// a computed attribute, an empty RecordName).
    SchemaError,
    /// -14143: the attribute does not hold the value to delete or change.
    AttributeValueNotFound,
    /// -14483: the change could not be carried out, e.g. reading or committing
    /// the account files failed.
    OperationFailed,
}

impl DsStatus {
    /// Apple's numeric `tDirStatus` value (negative), as dscl prints it in
    /// `DS Error: <code> (<name>)`.
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

    /// Apple's constant name (`eDS…`), as dscl prints it.
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

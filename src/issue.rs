//! Row and file issues: what is wrong with the input, where, and how bad.
//!
//! Every problem the core finds in user input is data, never a panic or an early stop: an [`Issue`] carries a
//! stable [`IssueCode`], a [`Severity`], the 1-based physical line and record number, the column (index and
//! header name) when one applies, and a lowercase message that says what was expected and what was found.

use serde::Serialize;

/// How bad an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row is rejected before sending (or, for file-level issues, the file cannot be imported as mapped).
    Error,
    /// The row is still sent; the user should know.
    Warning,
}

macro_rules! issue_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $sev:ident; )*) => {
        /// A stable, machine-readable issue code (the string form never changes once released).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum IssueCode { $( $(#[$doc])* $name, )* }

        impl IssueCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [IssueCode] = &[$(IssueCode::$name,)*];

            /// The stable string form, e.g. `"id_missing"`.
            pub fn as_str(self) -> &'static str {
                match self { $(IssueCode::$name => $code,)* }
            }

            /// The severity this code always has.
            pub fn severity(self) -> Severity {
                match self { $(IssueCode::$name => Severity::$sev,)* }
            }
        }
    };
}

issue_codes! {
    // ---- file / header level ----
    /// A header cell is blank.
    HeaderBlank = "header_blank", Error;
    /// Two header cells have the same name.
    HeaderDuplicate = "header_duplicate", Error;
    /// Two header cells differ only by case or punctuation (`id`, `Id`, `ID`).
    HeaderNearDuplicate = "header_near_duplicate", Warning;
    /// Day/month order of a date column could not be inferred from the data; a choice was made.
    DateOrderAmbiguous = "date_order_ambiguous", Warning;
    // ---- row structure ----
    /// The row has a different number of fields than the header.
    FieldCount = "field_count", Error;
    /// The row's bytes are not valid in the file's detected encoding.
    Encoding = "encoding", Error;
    /// The row's last field opens a quote that is never closed: it ran to the end of the file.
    UnclosedQuote = "unclosed_quote", Error;
    /// The row has text after a closing quote and a line break inside quotes: a stray quote merged lines into it.
    StrayQuote = "stray_quote", Error;
    /// A field has text after its closing quote (`"Bob" Smith`), on one line: read as `Bob Smith`.
    TextAfterQuote = "text_after_quote", Warning;
    // ---- identifiers ----
    /// The identifier cell is empty.
    IdMissing = "id_missing", Error;
    /// The identifier is longer than 150 bytes.
    IdTooLong = "id_too_long", Error;
    /// The email identifier is not a plausible address.
    EmailInvalid = "email_invalid", Error;
    // ---- events ----
    /// The event name is blank.
    EventNameMissing = "event_name_missing", Error;
    /// The event name is longer than 100 bytes.
    EventNameTooLong = "event_name_too_long", Error;
    /// The event's data (properties) is larger than 100,000 bytes.
    EventDataTooLarge = "event_data_too_large", Error;
    // ---- attributes ----
    /// An attribute name is longer than 150 bytes.
    AttributeNameTooLong = "attribute_name_too_long", Error;
    /// An attribute value is longer than 1000 bytes.
    AttributeValueTooLong = "attribute_value_too_long", Error;
    /// The row has more than 300 attributes.
    TooManyAttributes = "too_many_attributes", Error;
    /// A cell does not parse as the column's type.
    ValueType = "value_type", Error;
    // ---- payload ----
    /// The row's payload item is larger than the per-item limit (32 KB).
    ItemTooLarge = "item_too_large", Error;
    // ---- timestamps ----
    /// The timestamp cell is present but cannot be parsed.
    TimestampInvalid = "timestamp_invalid", Error;
    /// The timestamp is within the 72-hour window in which backfilled events can trigger campaigns.
    CampaignWindow = "campaign_window", Warning;
    /// The timestamp is in the future.
    TimestampFuture = "timestamp_future", Warning;
    /// The timestamp is before 1971: likely a unit mistake (seconds read as milliseconds, or an empty date).
    TimestampBefore1971 = "timestamp_before_1971", Warning;
    /// The row was skipped on the user's request (for example: inside the campaign window).
    Skipped = "skipped", Error;
    // ---- delivery ----
    /// The API refused the row (a Track v2 `207` entry, or a Pipelines `400` isolated to this row).
    ApiRejected = "api_rejected", Error;
    /// The row was not delivered: retries ran out, the run was cancelled, or the credentials were refused.
    DeliveryFailed = "failed", Error;
}

impl Serialize for IssueCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for IssueCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// The stable code.
    pub code: IssueCode,
    /// Error (row rejected) or warning (row still sent).
    pub severity: Severity,
    /// 1-based physical line where the row (or header) starts.
    pub line: u64,
    /// 1-based data record number (0 for the header row and file-level issues).
    pub record: u64,
    /// 0-based column index, when the issue is about one cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The column's header name, when the issue is about one cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_name: Option<String>,
    /// Lowercase, says expected versus found.
    pub message: String,
}

impl Issue {
    /// A new issue with the severity its code implies.
    pub fn new(code: IssueCode, line: u64, record: u64, message: impl Into<String>) -> Self {
        Issue {
            code,
            severity: code.severity(),
            line,
            record,
            column: None,
            column_name: None,
            message: message.into(),
        }
    }

    /// The same issue, about column `index` named `name`.
    pub fn at_column(mut self, index: usize, name: impl Into<String>) -> Self {
        self.column = Some(index);
        self.column_name = Some(name.into());
        self
    }
}

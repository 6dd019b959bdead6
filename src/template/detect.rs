//! `--template auto`: picks a built-in template from a file's header.
//!
//! Modification columns (`Reason`, `ActionId`, an indexed `Sku{i}`) without `EventDate` →
//! `modification`; any item column → `item-level`;
//! otherwise `order-level`. `chained` is never guessed: it looks exactly like order-level.

/// Columns that only item-level files have (lower case, aliases included).
const ITEM_COLUMNS: &[&str] = &[
    "sku",
    "itemsku",
    "category",
    "itemcategory",
    "quantity",
    "itemquantity",
    "itemprice",
    "itemsubtotal",
];

/// Columns that only modification files have.
const MODIFICATION_COLUMNS: &[&str] = &["actionid", "reason"];

/// The name of the built-in template that fits `header` best.
pub fn detect<S: AsRef<str>>(header: &[S]) -> &'static str {
    let names: Vec<String> = header
        .iter()
        .map(|h| h.as_ref().to_ascii_lowercase())
        .collect();
    let has = |n: &str| names.iter().any(|h| h == n);
    let any = |set: &[&str]| set.iter().any(|n| has(n));
    if !has("eventdate") {
        let modification_only = any(MODIFICATION_COLUMNS) || names.iter().any(|h| indexed_sku(h));
        // ActionTrackerId + Oid/OrderId without CampaignId identifies an existing action.
        let event_type = has("actiontrackerid") || has("eventtypeid");
        let action_key = event_type && (has("oid") || has("orderid")) && !has("campaignid");
        if modification_only || action_key {
            return "modification";
        }
    }
    if any(ITEM_COLUMNS) {
        "item-level"
    } else {
        "order-level"
    }
}

/// `sku1`, `sku2`, …: an item of an item-level modification.
fn indexed_sku(lower: &str) -> bool {
    lower
        .strip_prefix("sku")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn picks_by_columns() {
        assert_eq!(
            detect(&["CampaignId", "EventDate", "OrderId", "Sku"]),
            "item-level"
        );
        assert_eq!(
            detect(&["CampaignId", "EventDate", "OrderId", "ItemSubtotal"]),
            "item-level"
        );
        assert_eq!(
            detect(&["CampaignId", "EventDate", "OrderId", "ClickId"]),
            "order-level"
        );
        assert_eq!(
            detect(&["ActionTrackerID", "Oid", "Amount", "Reason"]),
            "modification"
        );
        assert_eq!(
            detect(&["ActionId", "Amount", "Reason", "Sku"]),
            "modification"
        );
        assert_eq!(
            detect(&["ActionTrackerId", "Oid", "Amount"]),
            "modification"
        );
        assert_eq!(detect(&["EventTypeId", "Oid", "Amount"]), "modification");
        assert_eq!(detect(&["ActionId", "Sku1", "Quantity1"]), "modification");
        assert_eq!(detect(&["Oid", "Sku1", "Quantity1"]), "modification");
        assert_eq!(
            detect(&["Oid", "ActionTrackerId", "Reason"]),
            "modification"
        );
        // EventDate wins: a conversion file that happens to carry a Reason column.
        assert_eq!(detect(&["EventDate", "Reason", "OrderId"]), "order-level");
        assert_eq!(detect::<&str>(&[]), "order-level");
    }
}

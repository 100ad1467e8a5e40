// Kept by hand to match migrations/postgres and migrations/sqlite, which stay equivalent.

diesel::table! {
    orgs (code) {
        code -> Text,
        parent_code -> Nullable<Text>,
        level -> Text,
        name -> Text,
        longitude -> Nullable<Double>,
        latitude -> Nullable<Double>,
        coordinates_generated -> Bool,
    }
}

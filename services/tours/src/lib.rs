//! 巡回宣讲 (百千万巾帼大宣讲 · 陇原妇女面对面), the program: volunteers, tours planned by the
//! worker, published with calendar files, repaired, reminded and attended.
//!
//! What it guarantees:
//! - one rule decides who manages a tour (`tour::may_manage`: `tour.manage` on its county),
//!   and every entry point (API, page) goes through it; volunteers likewise
//!   (`volunteer.manage` where she lives);
//! - a plan is computed by the worker outside any transaction within the configured time
//!   limit, checked by the independent checker before it is stored, and checked again before
//!   it is published; a newer request makes an older job's result stale;
//! - a published talk keeps its id and calendar UID for life; a repair keeps every other
//!   talk where it is and tells only the people it touched, with a higher SEQUENCE (a
//!   cancelling file for the lecturer who lost the talk);
//! - reminders and attendance requests are timers keyed by the talk's version, so a moved
//!   talk's old ones do nothing; every mail carries names, never codes.
//!
//! One module per step: `volunteers`, `tour` (creation), `plan`, `publish`, `changes`
//! (declines and removals), `attendance` (reminders, attendance), with `notices` (mails,
//! calendar files, timers), `jobs` and `views`.

mod attendance;
mod changes;
mod jobs;
mod notices;
mod plan;
mod publish;
mod refusal;
mod rules;
mod tour;
mod views;
mod volunteers;

pub use attendance::{Record, parse_record, record_attendance};
pub use changes::{Repaired, decline, remove};
pub use jobs::{AttendanceDue, PlanTour, SessionReminder, Tours, worker};
pub use notices::{ATTENDANCE, DECLINE, Places, day_label, time_label};
pub use plan::{Planned, instance_of, request_plan};
pub use publish::publish;
pub use refusal::{LineError, Refusal};
pub use rules::{Removal, Settings, TOPICS, TourSpec, VENUES};
pub use tour::{MANAGE_TOURS, NewTour, VillageVenue, create_tour, may_manage, set_villages};
pub use views::{
    DayView, LecturerView, SessionView, TalkView, TourLine, TourView, TownshipCoverage,
    UnassignedView, VillageChoice, VillagePoint, counties_for, map_svg, schedule_ics, session_view,
    tour_view, tours_for, volunteer_scopes,
};
pub use volunteers::{
    CSV_COLUMNS, MANAGE_VOLUNTEERS, NewVolunteer, add_volunteer, csv_template, import_volunteers,
    volunteers_of,
};

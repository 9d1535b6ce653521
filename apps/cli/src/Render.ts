/**
 * Output for people: aligned tables, trees and a dashboard, one module per kind of view under
 * render/ (Text.ts holds the pieces they share). Colour comes from `Colors` (identity functions
 * when stdout is not a terminal), so the same text reads well piped.
 */
export * from "./render/AdminViews.js"
export * from "./render/DatabaseViews.js"
export * from "./render/LeaseViews.js"
export * from "./render/QueueViews.js"
export * from "./render/TaskViews.js"
export { ago, duration, score, status, visibleWidth } from "./render/Text.js"

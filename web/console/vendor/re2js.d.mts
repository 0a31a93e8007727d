// Types for the browser build served at /console/vendor/re2js.mjs (src/http/console.ts).
export * from 're2js'

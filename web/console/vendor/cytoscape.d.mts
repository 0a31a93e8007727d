// Types for the browser build served at /console/vendor/cytoscape.mjs (src/http/console.ts).
export { default } from 'cytoscape'

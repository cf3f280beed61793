/** Stylesheets imported for their side effect: esbuild bundles them into the viewer's CSS file. */
declare module '*.css';

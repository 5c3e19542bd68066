// The in-page harness (static/harness.js) as the specs see it inside page.evaluate().
declare const h: any;
declare const io: any;

console.log(`::error::${process.env.GITHUB_ACTION_REPOSITORY || 'this action'} ran, but the test expected its step to be skipped.`);
process.exitCode = 1;
